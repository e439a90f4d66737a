"""The web portal: a single-page app served at ``/`` that calls Tagsight's own REST API."""
