"""Dependency management: outdated pins and moving one (`outdated_dependencies`,
`update_requirements`)."""
