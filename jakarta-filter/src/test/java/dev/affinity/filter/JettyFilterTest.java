package dev.affinity.filter;

import org.junit.jupiter.api.extension.RegisterExtension;

class JettyFilterTest extends FilterContractTest {
  @RegisterExtension
  static final ContainerExtension SERVER = new ContainerExtension(ServletContainer.Kind.JETTY, TestWebapp.standardParams());

  @Override
  ContainerExtension server() {
    return SERVER;
  }
}
