"""/api/schema/: the OpenAPI schema, readable in a browser as well as by tools.

drf-spectacular's YAML is `application/vnd.oai.openapi`, a type browsers download instead of showing.
The same YAML as `text/plain` comes first, so a browser (whose Accept ends in */*) and a bare curl
see text; a client that asks for `application/vnd.oai.openapi`, `application/yaml` or JSON
(`?format=json`) still gets exactly that. It costs nothing: the schema is the same bytes either way.
"""
from drf_spectacular.renderers import OpenApiYamlRenderer
from drf_spectacular.views import SpectacularAPIView


class PlainTextYamlRenderer(OpenApiYamlRenderer):
    media_type = "text/plain"


class SchemaView(SpectacularAPIView):
    renderer_classes = [PlainTextYamlRenderer, *SpectacularAPIView.renderer_classes]
