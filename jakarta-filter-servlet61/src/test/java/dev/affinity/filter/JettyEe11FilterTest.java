package dev.affinity.filter;

import org.junit.jupiter.api.extension.RegisterExtension;

class JettyEe11FilterTest extends Servlet61ContractTest {
  @RegisterExtension
  static final ContainerExtension SERVER =
      new ContainerExtension(Servlet61Containers.JettyEe11::new, TestWebapp.standardParams());

  @Override
  ContainerExtension server() {
    return SERVER;
  }
}
