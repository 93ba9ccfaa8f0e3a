"""Tests of regkit: cli."""
