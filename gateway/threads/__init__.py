"""Threading: the rules, the batch a new mail is threaded against, the tree."""
