"""Tests of regkit: sops."""
