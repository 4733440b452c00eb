package dev.affinity.filter;

import org.junit.jupiter.api.extension.RegisterExtension;

class TomcatFilterTest extends FilterContractTest {
  @RegisterExtension
  static final ContainerExtension SERVER = new ContainerExtension(ServletContainer.Kind.TOMCAT, TestWebapp.standardParams());

  @Override
  ContainerExtension server() {
    return SERVER;
  }
}
