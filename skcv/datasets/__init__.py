"""Placeholder, replaced by the dataset loaders."""
