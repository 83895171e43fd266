"""What happened, written down in the transaction that made it happen.

``topics`` maps row writes to Commerce Layer event topics; ``outbox`` collects a
transaction's events and writes them to the outbox table just before it commits. Both sit
low (storage and ids only), so the engine can record events without knowing the delivery
machinery in :mod:`kassa.webhooks`, which sits on top.
"""
