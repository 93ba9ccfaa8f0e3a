"""Tests of regkit: packaging."""
