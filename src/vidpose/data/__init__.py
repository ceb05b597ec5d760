"""Datasets: readers for standard on-disk formats and the synthetic video generator."""
