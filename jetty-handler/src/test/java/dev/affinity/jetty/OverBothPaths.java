package dev.affinity.jetty;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Runs a test once over each {@link TargetPath}, which it takes as its first parameter and passes
 * to {@code BalancerTestBase.start(..., path)} (or {@link TargetPath#applyTo}). An expectation that
 * differs between the paths today is asserted per path and marked {@code // differs today: ...}.
 */
@Target(ElementType.METHOD)
@Retention(RetentionPolicy.RUNTIME)
@ParameterizedTest(name = "{0}")
@EnumSource(TargetPath.class)
@interface OverBothPaths {}
