-- History search: a trigram full-text index over titles and denial reasons,
-- so a substring search stays fast at millions of decided approvals.
-- Insert-only rows keyed by the approval's id (not its rowid, which VACUUM
-- may renumber): one for the title when the approval is created, one for
-- the reason when it gets one (when it is denied, or if it is written with
-- one, as an import would). Approvals are never deleted, and
-- neither a title nor a reason ever changes once written.
CREATE VIRTUAL TABLE approvals_search USING fts5(
    approval_id UNINDEXED,
    text,
    tokenize = 'trigram'
);
INSERT INTO approvals_search (approval_id, text) SELECT id, title FROM approvals;
INSERT INTO approvals_search (approval_id, text)
    SELECT id, reason FROM approvals WHERE reason IS NOT NULL;

CREATE TRIGGER approvals_search_title AFTER INSERT ON approvals BEGIN
    INSERT INTO approvals_search (approval_id, text) VALUES (new.id, new.title);
    INSERT INTO approvals_search (approval_id, text)
        SELECT new.id, new.reason WHERE new.reason IS NOT NULL;
END;
CREATE TRIGGER approvals_search_reason AFTER UPDATE OF reason ON approvals
    WHEN new.reason IS NOT NULL AND old.reason IS NULL BEGIN
    INSERT INTO approvals_search (approval_id, text) VALUES (new.id, new.reason);
END;
