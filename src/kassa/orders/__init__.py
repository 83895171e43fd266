"""Order rules: totals and editability, the order lock, numbers, stock and shipments.

Below ``payments`` (which locks and refreshes orders) and above ``session``.
"""
