"""Flows that drive orders through payments: placing, the order lifecycle, and recovery of
interrupted gateway callouts."""
