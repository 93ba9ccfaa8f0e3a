"""Tests of regkit: login."""
