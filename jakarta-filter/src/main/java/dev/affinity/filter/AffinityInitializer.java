package dev.affinity.filter;

import jakarta.servlet.DispatcherType;
import jakarta.servlet.FilterRegistration;
import jakarta.servlet.ServletContainerInitializer;
import jakarta.servlet.ServletContext;
import jakarta.servlet.ServletException;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.Properties;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Registers {@link AffinityFilter} on {@code /*} (before the application's own filters) when the web
 * application's class path holds {@code affinity.properties}, whose keys are the filter's init-params.
 * Does nothing without that file, or when {@code web.xml} (or code) already registered the filter.
 */
public class AffinityInitializer implements ServletContainerInitializer {
  /** The class path resource that switches the initializer on. */
  public static final String PROPERTIES = "affinity.properties";
  /** The name the filter is registered under. */
  public static final String FILTER_NAME = "affinity";
  private static final Logger LOG = LoggerFactory.getLogger(AffinityInitializer.class);

  private final String resource;

  public AffinityInitializer() {
    this(PROPERTIES);
  }

  /** For tests: another resource name. */
  AffinityInitializer(String resource) {
    this.resource = resource;
  }

  @Override
  public void onStartup(Set<Class<?>> classes, ServletContext context) throws ServletException {
    ClassLoader loader = context.getClassLoader() != null ? context.getClassLoader() : getClass().getClassLoader();
    URL url = loader.getResource(resource);
    if (url == null) {
      return;
    }
    ServletVersion.require6(context);
    for (FilterRegistration registration : context.getFilterRegistrations().values()) {
      if (AffinityFilter.class.getName().equals(registration.getClassName())) {
        LOG.info("{} found, but AffinityFilter \"{}\" is already registered; {} is ignored", resource,
            registration.getName(), url);
        return;
      }
    }
    Properties properties = new Properties();
    try (InputStream in = url.openStream()) {
      properties.load(new InputStreamReader(in, StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new ServletException(resource + " at " + url + " cannot be read: " + e, e);
    }
    AffinityFilterConfig config;
    try {
      AffinityFilterConfig.checkNames(new ArrayList<>(properties.stringPropertyNames()));
      config = AffinityFilterConfig.fromParameters(properties::getProperty);
    } catch (IllegalArgumentException | IllegalStateException e) {
      throw new ServletException(resource + " at " + url + ": " + e.getMessage(), e);
    }
    FilterRegistration.Dynamic registration = context.addFilter(FILTER_NAME, new AffinityFilter(config));
    registration.setAsyncSupported(true);
    registration.addMappingForUrlPatterns(
        EnumSet.of(DispatcherType.REQUEST, DispatcherType.ASYNC, DispatcherType.ERROR, DispatcherType.FORWARD),
        false, "/*");
    LOG.info("registered AffinityFilter \"{}\" on /* from {}", FILTER_NAME, url);
  }
}
