-- articles: one row per article a batch loaded. An article re-delivered in a later batch has a
-- row in each (same article_id); articles_dedup keeps one per story.
-- import -> renamed -> final; every column is documented and tested in sql/models.yml.
CREATE OR REPLACE VIEW articles AS
WITH source AS (
    SELECT * FROM warehouse_table('articles')
),

renamed AS (
    SELECT
        article_id,
        batch_date,
        source_file,
        member,
        locator,
        format,
        source_id,
        sequence,
        url,
        source_domain,
        coalesce(source_domain, site_name) AS source,
        authors,
        site_name,
        section,
        title,
        teaser,
        body,
        subheadings,
        language,
        language_confidence,
        published_at,
        published_local,
        publication_day(published_local) AS published_day,
        published_precision,
        published_source,
        published_confidence,
        published_flag,
        dateline_place,
        fetched_at,
        word_count,
        char_count,
        content_hash,
        duplicate_cluster_id,
        encoding,
        layout,
        warnings,
        ner_model,
        run_id
    FROM source
)

SELECT * FROM renamed;
