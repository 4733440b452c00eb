package dev.affinity.filter;

import jakarta.enterprise.context.ApplicationScoped;

/** A CDI bean of the test web application that pins and releases through the interceptor bindings. */
@ApplicationScoped
public class Shop {

  @Sticky(duration = "PT7M")
  public String checkout() {
    return "checked out";
  }

  @ReleaseAffinity
  public String logout() {
    return "logged out";
  }
}
