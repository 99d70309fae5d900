from exp_digits import *
for emb in [16, 20, 32, 48]:
    for k in [7, 10]:
        print(k, emb, run(X0, k, "local", emb, seeds=5), flush=True)
X = PCA(32, random_state=0).fit_transform(X0)
print("pca32", 10, 20, run(X, 10, "local", 20, seeds=5), flush=True)
