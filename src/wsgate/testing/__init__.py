"""Testing helpers for wsgate apps: event factories, test client, registry contract suite."""
