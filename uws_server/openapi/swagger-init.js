// Starts Swagger UI on the service's own /openapi.json; nothing is fetched from elsewhere
// (validatorUrl: null turns off the badge that would ask validator.swagger.io).
window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: document.querySelector("#swagger-ui").getAttribute("data-spec"),
    dom_id: "#swagger-ui",
    deepLinking: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    plugins: [SwaggerUIBundle.plugins.DownloadUrl],
    layout: "StandaloneLayout"
  });
});
