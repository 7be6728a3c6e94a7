"""The web app: server-rendered pages for traders on top of the API's services and selectors.

Views here only parse a form, call one service or selector and render; the business rules
live where the API finds them. See ``docs/web.md``.
"""
