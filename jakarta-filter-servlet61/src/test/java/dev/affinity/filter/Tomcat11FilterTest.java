package dev.affinity.filter;

import org.junit.jupiter.api.extension.RegisterExtension;

class Tomcat11FilterTest extends Servlet61ContractTest {
  @RegisterExtension
  static final ContainerExtension SERVER =
      new ContainerExtension(ServletContainer.TomcatContainer::new, TestWebapp.standardParams());

  @Override
  ContainerExtension server() {
    return SERVER;
  }
}
