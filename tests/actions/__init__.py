"""Tests of regkit: actions."""
