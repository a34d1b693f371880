"""MkDocs hooks of this site.

``on_config``: serve the pages from the folder of ``mkdocs.yml`` (``docs/``). MkDocs' validation
refuses a ``docs_dir`` equal to the config file's folder (it would copy the config into the site);
``mkdocs.yml`` excludes itself and this file, so that check is not needed here. ``on_config`` runs
after validation and before any page is collected.

``on_page_content``: the docstrings use Sphinx roles (``:class:`~hpa_sklearn.HPAVGG16Classifier```),
which the numpydoc parser leaves as text. Each becomes a cross-reference that mkdocs-autorefs
resolves to the API page where it can (``optional``: no warning where it cannot, e.g. a
scikit-learn name), shown as the short name for ``~`` targets, as Sphinx does.
"""

import html
import os
import re

_ROLE = re.compile(r":(?:func|class|meth|data|attr|mod|obj|exc):<code>(~?)([\w.]+)</code>")
# in a type column the whole role is one code span: <code>:class:`~sklearn.utils.Bunch`</code>
_TYPE_ROLE = re.compile(r"<code>:(?:func|class|meth|data|attr|mod|obj|exc):`(~?)([\w.]+)`</code>")


def _public_aliases():
    """``hpa_sklearn.Name`` -> the module path where the API reference documents ``Name``."""
    try:
        import hpa_sklearn
    except ImportError:
        return {}
    return {f"hpa_sklearn.{name}": f"hpa_sklearn{module}.{name}"
            for name, module in getattr(hpa_sklearn, "_LAZY", {}).items()}


_ALIASES = _public_aliases()


def on_config(config):
    config.docs_dir = os.path.dirname(os.path.abspath(config.config_file_path))
    return config


def _cross_reference(match):
    short, target = match.group(1), match.group(2)
    shown = target.rsplit(".", 1)[-1] if short else target
    identifier = html.escape(_ALIASES.get(target, target), quote=True)
    return f'<autoref identifier="{identifier}" optional><code>{html.escape(shown)}</code></autoref>'


def on_page_content(html_text, page, config, files):
    return _TYPE_ROLE.sub(_cross_reference, _ROLE.sub(_cross_reference, html_text))
