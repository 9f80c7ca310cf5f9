"""Datasets on disk: reading, checking, converting, augmenting and loading them."""
