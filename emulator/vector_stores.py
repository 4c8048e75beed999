from starlette.routing import BaseRoute

from emulator.model import SearchHit
from emulator.store import Store


def routes() -> list[BaseRoute]:
    return []


def search(
    store: Store, vector_store_ids: list[str], query: str, max_results: int = 20
) -> list[SearchHit]:
    """Best-matching chunks of the completed files of these vector stores, best first."""
    return []


def create_for_thread(store: Store, file_ids: list[str]) -> str:
    """A vector store for files attached to a thread's messages; returns its id."""
    raise NotImplementedError
