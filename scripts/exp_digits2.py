import numpy as np
from scipy.ndimage import gaussian_filter
from exp_digits import *

def only10(X, k, mode, emb, seeds=5, **kw):
    W = knn_graph(X, k, mode)
    Z = spectral(W, emb) if emb else X
    if emb: Z = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    accs, cov = [], []
    for seed in range(seeds):
        lab = np.array(cold_start(Z, 10, seed))
        cov.append(len(set(y[lab])))
        F = spread(W, lab, y[lab], 10, **kw)
        m = np.ones(len(y), bool); m[lab] = False
        accs.append((F.argmax(1)[m] == y[m]).mean())
    return round(np.mean(accs)*100, 1), cov

imgs = d.images / 16
Xb = np.stack([gaussian_filter(im, 0.7) for im in imgs]).reshape(len(imgs), -1)
Xb2 = np.stack([gaussian_filter(im, 1.0) for im in imgs]).reshape(len(imgs), -1)
for name, X in [("raw", X0), ("blur.7", Xb), ("blur1", Xb2), ("raw+l2", X0/np.linalg.norm(X0,axis=1,keepdims=True))]:
    for k in [5, 10]:
        for emb in [0, 10, 20]:
            print(name, k, emb, only10(X, k, "local", emb), only10(X, k, "local", emb, cmn=False)[0], flush=True)
