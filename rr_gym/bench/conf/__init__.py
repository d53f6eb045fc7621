"""Hydra configs of ``python -m rr_gym.bench``, shipped as package data.

A package, so that installed copies and ``initialize_config_module`` find them.
"""
