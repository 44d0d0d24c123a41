package intactkv.autograd;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a test that checks the gradient of the named operations ({@code "Class.method"},
 * e.g. {@code "Arithmetic.add"}). {@link GradientCoverageTest} fails if a differentiable
 * operation has no such test.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
@interface ChecksGradientOf {
    String[] value();
}
