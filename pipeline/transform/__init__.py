"""Turn a record into an article: split a text dump (``textdump``), build the row and re-use an
earlier batch's row of the same bytes (``article``), publication dates (``dates``), relative
time expressions (``timex``), normalisers (``normalise``), exact duplicates (``dedupe``) and near
duplicates (``neardup``). Pure functions of a record: no batch, warehouse or catalog."""
