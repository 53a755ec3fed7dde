/**
 * The control plane's own audience, `spiffe://<trust domain>/gatehouse`,
 * and the rule that keeps it apart from every other audience: a JWT-SVID
 * for the control plane is for the control plane alone, and a JWT-SVID for
 * a service never names the control plane.
 *
 * Why: whoever receives a JWT-SVID can present it to every audience it
 * names (JWT-SVID §6.2 strongly recommends a single audience for this
 * reason). A token for `orders` that also named the control plane let
 * `orders`, or anything behind it that saw the Authorization field, call the
 * control plane as the workload: renew it for ever, issue SVIDs for it, ship
 * its decision records.
 */

/** The audience a workload of `trustDomain` uses to call the control plane. */
export function controlPlaneAudience(trustDomain: string): string {
  return `spiffe://${trustDomain}/gatehouse`;
}

/**
 * The control-plane audience of `trustDomain` when `audience` names it
 * beside any other audience; undefined when it does not (the control plane
 * alone, or services alone).
 */
export function mixedControlPlaneAudience(
  audience: readonly unknown[],
  trustDomain: string,
): string | undefined {
  const controlPlane = controlPlaneAudience(trustDomain);
  return audience.includes(controlPlane) && audience.some((a) => a !== controlPlane)
    ? controlPlane
    : undefined;
}
