package dev.affinity.filter;

import static java.util.Objects.requireNonNull;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Starts one container with the standard test web application before a test class and stops it
 * after; exposes its URI and a plain {@link HttpClient} that follows no redirects and keeps no cookies.
 */
final class ContainerExtension implements BeforeAllCallback, AfterAllCallback {
  private final ServletContainer.Kind kind;
  private final Supplier<ServletContainer> containers;
  private final Map<String, String> initParams;
  private ServletContainer container;
  private URI uri;
  private final HttpClient client = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5))
      .followRedirects(HttpClient.Redirect.NEVER)
      .build();

  ContainerExtension(ServletContainer.Kind kind, Map<String, String> initParams) {
    this.kind = requireNonNull(kind, "kind");
    this.containers = kind::create;
    this.initParams = requireNonNull(initParams, "initParams");
  }

  /** Another container than the two {@link ServletContainer.Kind}s (jakarta-filter-servlet61's); no kind. */
  ContainerExtension(Supplier<ServletContainer> containers, Map<String, String> initParams) {
    this.kind = null;
    this.containers = requireNonNull(containers, "containers");
    this.initParams = requireNonNull(initParams, "initParams");
  }

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    container = containers.get();
    uri = container.start(TestWebapp.write(initParams), null);
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    if (container != null) {
      container.close();
    }
  }

  ServletContainer.Kind kind() {
    return kind;
  }

  URI uri() {
    return uri;
  }

  /** GET {@code path} with optional header pairs ({@code "Cookie", "a=b"}, …). */
  HttpResponse<String> get(String path, String... headers) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(uri.resolve(path)).timeout(Duration.ofSeconds(10));
    for (int i = 0; i < headers.length; i += 2) {
      request.header(headers[i], headers[i + 1]);
    }
    return client.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }
}
