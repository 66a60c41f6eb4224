"""Read raw input: list a batch's files (``readers``: landing folders, links and special files
refused), open containers as streams (``containers``), decode (``encoding``), detect the format
and read each leaf with its reader (``text``, ``structured`` for JSON/CSV, ``html`` for pages and
WARC, ``feeds`` for RSS/Atom) on the shared base (``base``), and hand on sanitised ``records``
(``sanitise``). Nothing here knows about batches, the warehouse or the catalog."""
