from tests.client.live import live_url

__all__ = ["live_url"]
