LABELS = ("O", "B-Disease", "I-Disease")
