"""Tests of rr_gym; the folders mirror the package."""
