/**
 * Figures drawn with Java2D, as a model that tests can read (axes, ranges, tick labels, colour
 * scale, the pixel rectangle of every cell and point) and as the rendered PNG: heat maps
 * ({@link intactkv.figure.HeatMap}) with row 0 at the top and ticks at cell centres, line and
 * scatter plots ({@link intactkv.figure.LinePlot}) whose legend draws each series' own marker,
 * and PNG files carrying text metadata ({@link intactkv.figure.Png}).
 */
package intactkv.figure;
