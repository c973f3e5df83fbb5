-- Per-owner watchlists (issue 13): each API key keeps its own list, keyed (owner, symbol). The owner is the
-- API key id as text; '' is the anonymous callers' one shared list (key ids are integers, never empty; a
-- primary key cannot hold NULL, so the anonymous owner is spelled '' here and null in the API).
-- Rows of the server-wide list of 0005 become the anonymous list: they were everyone's, and '' is the owner
-- everyone without a key shares (an admin key sees and manages them like every other owner's rows).
-- The MSS history stays one series per coin (an MSS measurement does not depend on who watches the coin);
-- an owner is shown the measurements since they added the coin, and the series is deleted when the last
-- owner stops watching it (persistence/queries/watchlist.sql, remove_entry).
ALTER TABLE watchlist_mss DROP CONSTRAINT watchlist_mss_symbol_fkey;

ALTER TABLE watchlist ADD COLUMN owner text NOT NULL DEFAULT '';
ALTER TABLE watchlist ALTER COLUMN owner DROP DEFAULT;  -- every insert names its owner from here on
ALTER TABLE watchlist DROP CONSTRAINT watchlist_pkey;
ALTER TABLE watchlist ADD CONSTRAINT watchlist_pkey PRIMARY KEY (owner, symbol);
CREATE INDEX watchlist_symbol_idx ON watchlist (symbol);  -- "is anyone watching this coin?" per MSS answer
