"""The studio's pages: ``studio`` (a creator's own dashboard, contents, uploads and sales),
``webhooks`` (the studio's webhook settings) and ``pages`` (a creator's public page and content
covers). Access to the studio is ``creators.access.creator_required``."""
