"""Exploratory: what gets digits to 90/95/97 from zero labels. Not part of the library."""
import sys, time
import numpy as np, scipy.sparse as sp
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.cluster import KMeans
from sklearn.neighbors import NearestNeighbors

d = load_digits(); X0 = d.data.astype(np.float32) / 16; y = d.target

def knn_graph(X, k, mode):
    nn = NearestNeighbors(n_neighbors=k + 1).fit(X)
    dist, ind = nn.kneighbors(X)
    dist, ind = dist[:, 1:], ind[:, 1:]
    n = len(X)
    if mode == "binary":
        w = np.ones_like(dist)
    elif mode == "local":
        sig = dist[:, min(6, k - 1)] + 1e-9
        w = np.exp(-dist**2 / (sig[:, None] * sig[ind]))
    else:
        s = np.median(dist[:, -1]); w = np.exp(-dist**2 / s**2)
    W = sp.csr_matrix((w.ravel(), (np.repeat(np.arange(n), k), ind.ravel())), shape=(n, n))
    return W.maximum(W.T)

def spread(W, lab_idx, lab_y, C, alpha=0.99, iters=200, cmn=True):
    d = np.asarray(W.sum(1)).ravel(); Dm = 1/np.sqrt(d)
    S = sp.diags(Dm) @ W @ sp.diags(Dm)
    Y = np.zeros((W.shape[0], C)); Y[lab_idx, lab_y] = 1
    F = Y.copy()
    for _ in range(iters):
        F = alpha * (S @ F) + (1 - alpha) * Y
    if cmn:
        F = F / (F.sum(0, keepdims=True) + 1e-12)
    return F

def spectral(W, dim):
    from scipy.sparse.linalg import eigsh
    d = np.asarray(W.sum(1)).ravel(); Dm = 1/np.sqrt(d)
    S = sp.diags(Dm) @ W @ sp.diags(Dm)
    vals, vecs = eigsh(S, k=dim + 1, which="LA")
    E = vecs[:, ::-1] * Dm[:, None]
    return E[:, 1:] if True else E

def cold_start(Z, n, seed):
    km = KMeans(n, n_init=10, random_state=seed).fit(Z)
    picks = []
    for c in range(n):
        m = np.where(km.labels_ == c)[0]
        picks.append(m[np.argmin(((Z[m] - km.cluster_centers_[c])**2).sum(1))])
    return picks

def run(X, k, mode, emb_dim, budgets=(10, 30, 50), seeds=5, qstrat="margin", cmn=True, alpha=0.99):
    W = knn_graph(X, k, mode)
    Z = spectral(W, emb_dim) if emb_dim else X
    Z = Z / np.linalg.norm(Z, axis=1, keepdims=True) if emb_dim else Z
    res = {b: [] for b in budgets}
    for seed in range(seeds):
        lab = list(cold_start(Z, 10, seed))
        while True:
            F = spread(W, np.array(lab), y[lab], 10, alpha=alpha, cmn=cmn)
            if len(lab) in res:
                mask = np.ones(len(y), bool); mask[lab] = False
                res[len(lab)].append((F.argmax(1)[mask] == y[mask]).mean())
            if len(lab) >= max(budgets): break
            nxt = min(b for b in budgets if b > len(lab))
            P = F / (F.sum(1, keepdims=True) + 1e-12)
            s = np.sort(P, 1); marg = s[:, -1] - s[:, -2]
            marg[lab] = np.inf
            # batch: one at a time (sequential)
            lab.append(int(np.argmin(marg)))
    return {b: round(float(np.mean(v)) * 100, 1) for b, v in res.items()}

if __name__ == "__main__":
    for feat in ["raw", "pca30"]:
        X = X0 if feat == "raw" else PCA(30, random_state=0).fit_transform(X0)
        for k in [5, 10, 15]:
            for mode in ["binary", "local"]:
                for emb in [0, 10]:
                    t = time.time()
                    print(feat, k, mode, emb, run(X, k, mode, emb, seeds=3), f"{time.time()-t:.1f}s", flush=True)
