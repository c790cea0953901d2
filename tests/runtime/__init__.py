"""Tests of the runtime: model loading, generation and the stages."""
