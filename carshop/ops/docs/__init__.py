"""Documentation maintenance: the docs checked against the code (`check_docs`) and the changelog
(`update_changelog`)."""
