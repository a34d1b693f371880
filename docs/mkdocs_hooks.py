"""MkDocs hook of this site: serve the pages from the folder of ``mkdocs.yml`` (``docs/``).

MkDocs' validation refuses ``docs_dir`` equal to the config file's folder (it would copy the
config into the site); ``mkdocs.yml`` excludes itself and this file, so the check is not needed
here. ``on_config`` runs after validation and before any page is collected.
"""

import os


def on_config(config):
    config.docs_dir = os.path.dirname(os.path.abspath(config.config_file_path))
    return config
