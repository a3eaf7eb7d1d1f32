"""The BYOC corpus: benign NVFlare 2.9 Client API jobs written by hand, and harmful variants of one of them."""
