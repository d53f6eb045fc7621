"""Tests of rr_gym.data (a package so test module names cannot clash with other suites)."""
