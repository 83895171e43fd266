"""Real-time webhooks: topics, the transactional outbox, signed delivery with retries.

Import direction: :mod:`.topics`, :mod:`.config`, :mod:`.signing` and :mod:`.outbox` sit at
the bottom (storage only); :mod:`.payloads`, :mod:`.delivery` and :mod:`.worker` use the
engine to render the resources they send.
"""
