"""Federated vs central NER (the seed paper's Tables 1 and 2) and the federation overhead per round."""
