package dev.affinity.spring.app;

import org.springframework.boot.autoconfigure.SpringBootApplication;

/** The tests' application: a few controllers, the starter auto-configured from application.yml. */
@SpringBootApplication(proxyBeanMethods = false)
public class CartApp {}
