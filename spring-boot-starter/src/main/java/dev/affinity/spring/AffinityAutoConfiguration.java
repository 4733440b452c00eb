package dev.affinity.spring;

import dev.affinity.filter.Affinity;
import dev.affinity.filter.AffinityFilter;
import dev.affinity.filter.AffinityFilterConfig;
import dev.affinity.filter.AffinityListener;
import dev.affinity.route.RouteSettings;
import dev.affinity.session.SessionMode;
import io.micrometer.core.instrument.binder.MeterBinder;
import jakarta.servlet.DispatcherType;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.springframework.aop.Advisor;
import org.springframework.aop.config.AopConfigUtils;
import org.springframework.beans.factory.ListableBeanFactory;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.beans.factory.config.BeanDefinition;
import org.springframework.beans.factory.support.BeanDefinitionRegistry;
import org.springframework.boot.actuate.endpoint.annotation.Endpoint;
import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnClass;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.autoconfigure.condition.ConditionalOnProperty;
import org.springframework.boot.autoconfigure.condition.ConditionalOnWebApplication;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;
import org.springframework.context.annotation.Import;
import org.springframework.context.annotation.ImportBeanDefinitionRegistrar;
import org.springframework.context.annotation.Role;
import org.springframework.core.type.AnnotationMetadata;
import org.springframework.util.ClassUtils;
import org.springframework.web.method.support.HandlerMethodArgumentResolver;
import org.springframework.web.servlet.config.annotation.WebMvcConfigurer;

/**
 * Registers {@link AffinityFilter} from the {@code affinity.*} properties in a servlet web
 * application, honours {@code @Sticky} / {@code @ReleaseAffinity} on Spring beans (controllers
 * included), resolves {@link Affinity} controller arguments, and, when their libraries are present,
 * publishes Micrometer meters and the {@code affinity} actuator endpoint.
 *
 * <p>Backs off when the application registers its own {@code AffinityFilter} (as a bean or in a
 * {@code FilterRegistrationBean<AffinityFilter>}), and registers nothing with
 * {@code affinity.enabled=false}.
 */
@AutoConfiguration
@ConditionalOnWebApplication(type = ConditionalOnWebApplication.Type.SERVLET)
@ConditionalOnClass({AffinityFilter.class, FilterRegistrationBean.class})
@ConditionalOnProperty(prefix = "affinity", name = "enabled", havingValue = "true", matchIfMissing = true)
@EnableConfigurationProperties(AffinityProperties.class)
public class AffinityAutoConfiguration {
  /**
   * Just inside Spring Session's {@code SessionRepositoryFilter} ({@code Integer.MIN_VALUE + 50}), so
   * that the filter's request wrapper sees the sessions Spring Session creates (pin on session
   * creation), and well before Spring Security's filter chain (-100), so that sessions Security creates
   * or rotates are seen too and a request Security rejects still carries the cookies already decided.
   */
  public static final int DEFAULT_FILTER_ORDER = Integer.MIN_VALUE + 60;

  /** The name under which the filter is registered with the servlet container. */
  public static final String FILTER_NAME = "affinity";

  private static final String SESSION_REPOSITORY_FILTER = "org.springframework.session.web.http.SessionRepositoryFilter";

  /** The filter and its checked settings, unless the application registered an AffinityFilter itself. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnMissingBean(value = AffinityFilter.class, parameterizedContainer = FilterRegistrationBean.class)
  static class FilterConfiguration {

    /**
     * The filter's settings, parsed and checked by the filter's own code at start-up: an invalid
     * value fails the application, naming the property.
     */
    @Bean
    @ConditionalOnMissingBean
    AffinityFilterConfig affinityFilterConfig(AffinityProperties properties, ObjectProvider<AffinityListener> listeners,
        ListableBeanFactory beanFactory) {
      AffinityFilterConfig config = filterConfig(properties);
      refuseSessionModeBesideSpringSession(config, beanFactory);
      List<AffinityListener> all = listeners.orderedStream().toList();
      // CDI is off: in Spring, @Sticky and @ReleaseAffinity are honoured by AffinityBindingsAdvisor.
      config = config.withCdi(false);
      return all.isEmpty() ? config : config.withListener(all.size() == 1 ? all.get(0) : new AffinityListeners(all));
    }

    @Bean
    FilterRegistrationBean<AffinityFilter> affinityFilterRegistration(AffinityFilterConfig config,
        AffinityProperties properties) {
      FilterRegistrationBean<AffinityFilter> registration = new FilterRegistrationBean<>(new AffinityFilter(config));
      registration.setName(FILTER_NAME);
      registration.addUrlPatterns("/*");
      registration.setDispatcherTypes(DispatcherType.REQUEST, DispatcherType.ASYNC, DispatcherType.ERROR,
          DispatcherType.FORWARD);
      registration.setAsyncSupported(true);
      registration.setOrder(properties.getFilterOrder());
      return registration;
    }
  }

  /** {@code @Sticky} and {@code @ReleaseAffinity} on Spring beans, through an infrastructure advisor. */
  @Configuration(proxyBeanMethods = false)
  @Import(AutoProxying.class)
  static class BindingsConfiguration {

    @Bean
    @Role(BeanDefinition.ROLE_INFRASTRUCTURE)
    static Advisor affinityBindingsAdvisor() {
      return new AffinityBindingsAdvisor();
    }
  }

  /**
   * Makes sure an auto-proxy creator exists (as {@code @EnableTransactionManagement} does), so that the
   * advisor applies even with {@code spring.aop.auto=false}; with Boot's defaults one already exists.
   */
  static class AutoProxying implements ImportBeanDefinitionRegistrar {
    @Override
    public void registerBeanDefinitions(AnnotationMetadata metadata, BeanDefinitionRegistry registry) {
      AopConfigUtils.registerAutoProxyCreatorIfNecessary(registry);
    }
  }

  /** An {@link Affinity} argument in Spring MVC handler methods. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(WebMvcConfigurer.class)
  static class WebMvcConfiguration {

    @Bean
    WebMvcConfigurer affinityArgumentResolverConfigurer() {
      return new WebMvcConfigurer() {
        @Override
        public void addArgumentResolvers(List<HandlerMethodArgumentResolver> resolvers) {
          resolvers.add(new AffinityArgumentResolver());
        }
      };
    }
  }

  /** Micrometer meters; bound by Boot to every {@code MeterRegistry} the application has. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(MeterBinder.class)
  static class MetricsConfiguration {

    @Bean
    @ConditionalOnMissingBean
    AffinityMeters affinityMeters() {
      return new AffinityMeters();
    }
  }

  /** The {@code affinity} actuator endpoint: the effective configuration, without secrets. */
  @Configuration(proxyBeanMethods = false)
  @ConditionalOnClass(Endpoint.class)
  static class EndpointConfiguration {

    @Bean
    @ConditionalOnMissingBean
    AffinityEndpoint affinityEndpoint(ObjectProvider<AffinityFilterConfig> config, AffinityProperties properties) {
      return new AffinityEndpoint(config, properties);
    }
  }

  /**
   * Parses the properties with the filter's own parsers.
   *
   * @throws IllegalStateException naming the {@code affinity.*} property when a value is refused
   */
  static AffinityFilterConfig filterConfig(AffinityProperties properties) {
    Map<String, String> parameters = properties.initParameters();
    String targetId = parameters.get(RouteSettings.TARGET_ID);
    if (targetId == null || targetId.isBlank()) {
      throw new IllegalStateException("no target id: set affinity.target-id (application.yml, or the environment"
          + " variable AFFINITY_TARGET_ID) to this target's id as the balancer knows it");
    }
    try {
      return AffinityFilterConfig.fromParameters(parameters::get);
    } catch (IllegalArgumentException | IllegalStateException e) {
      // The filter's messages name its init-params and never echo a secret; name the properties instead.
      throw new IllegalStateException("invalid affinity configuration: " + propertyNames(e.getMessage()), e);
    }
  }

  private static final Pattern PARAMETER = Pattern.compile("\\b("
      + String.join("|", AffinityProperties.PROPERTY_OF_PARAMETER.keySet()) + ")\\b");

  /** The message with each init-param name replaced by its property's name. */
  static String propertyNames(String message) {
    if (message == null) {
      return null;
    }
    Matcher m = PARAMETER.matcher(message);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      m.appendReplacement(out, Matcher.quoteReplacement(AffinityProperties.PROPERTY_OF_PARAMETER.get(m.group(1))));
    }
    m.appendTail(out);
    return out.toString();
  }

  /**
   * With Spring Session's filter in place, HttpSession is Spring Session's: the filter's own sessions
   * (cookie, redis) would shadow it for the application and leave Spring Session's store unused.
   */
  private static void refuseSessionModeBesideSpringSession(AffinityFilterConfig config, ListableBeanFactory beanFactory) {
    if (config.sessions().mode() == SessionMode.CONTAINER
        || !ClassUtils.isPresent(SESSION_REPOSITORY_FILTER, AffinityAutoConfiguration.class.getClassLoader())) {
      return;
    }
    Class<?> type = ClassUtils.resolveClassName(SESSION_REPOSITORY_FILTER, AffinityAutoConfiguration.class.getClassLoader());
    String[] names = beanFactory.getBeanNamesForType(type, false, false);
    if (names.length > 0) {
      throw new IllegalStateException("affinity.session.mode=" + config.sessions().mode().value()
          + " conflicts with Spring Session's filter (bean \"" + names[0] + "\"), which already provides HttpSession;"
          + " set affinity.session.mode=container (route cookies only, sessions stay Spring Session's)");
    }
  }
}
