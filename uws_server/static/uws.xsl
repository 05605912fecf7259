<?xml version="1.0" encoding="UTF-8"?>
<!-- Renders uws-server's UWS 1.1 documents (job, job list, results, parameters) as a page
     with working links, for a browser opening a UWS URL. XSLT 1.0; no external resources. -->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:uws="http://www.ivoa.net/xml/UWS/v1.0" xmlns:xlink="http://www.w3.org/1999/xlink"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" exclude-result-prefixes="uws xlink xsi">
  <xsl:output method="html" encoding="UTF-8" indent="yes"/>

  <xsl:template match="/">
    <html lang="en">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:apply-templates select="*" mode="title"/></title>
        <link rel="stylesheet" href="/static/ui/ui.css"/>
      </head>
      <body>
        <header class="top"><a class="brand" href="/ui/jobs">uws-server</a>
          <nav aria-label="Main"><ul><li><a href="/ui/jobs">Web interface</a></li>
          <li><a href="?format=json">This document as JSON</a></li></ul></nav></header>
        <main id="main"><xsl:apply-templates select="*"/></main>
      </body>
    </html>
  </xsl:template>

  <xsl:template match="uws:job" mode="title">UWS job <xsl:value-of select="uws:jobId"/></xsl:template>
  <xsl:template match="uws:jobs" mode="title">UWS job list</xsl:template>
  <xsl:template match="uws:results" mode="title">UWS results</xsl:template>
  <xsl:template match="uws:parameters" mode="title">UWS parameters</xsl:template>
  <xsl:template match="*" mode="title">UWS document</xsl:template>

  <xsl:template match="uws:job">
    <h1>Job <code><xsl:value-of select="uws:jobId"/></code></h1>
    <p><a href="/ui/jobs/{uws:jobId}">Open in the web interface</a></p>
    <section class="card"><h2>Summary</h2>
      <dl class="facts">
        <dt>Phase</dt><dd><span class="badge phase-{translate(uws:phase, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')}" id="phase"><xsl:value-of select="uws:phase"/></span></dd>
        <xsl:if test="uws:runId"><dt>Run id</dt><dd><xsl:value-of select="uws:runId"/></dd></xsl:if>
        <dt>Owner</dt><dd><xsl:value-of select="uws:ownerId"/></dd>
        <dt>Created</dt><dd><xsl:value-of select="uws:creationTime"/></dd>
        <dt>Started</dt><dd><xsl:value-of select="uws:startTime"/></dd>
        <dt>Ended</dt><dd><xsl:value-of select="uws:endTime"/></dd>
        <dt>Execution duration</dt><dd><xsl:value-of select="uws:executionDuration"/> s</dd>
        <dt>Destruction</dt><dd><xsl:value-of select="uws:destruction"/></dd>
      </dl>
      <xsl:apply-templates select="uws:errorSummary"/>
    </section>
    <section class="card"><h2>Parameters</h2><xsl:apply-templates select="uws:parameters"/></section>
    <section class="card"><h2>Results</h2><xsl:apply-templates select="uws:results"/></section>
  </xsl:template>

  <xsl:template match="uws:errorSummary">
    <div class="error-summary" role="alert"><h3>Error (<xsl:value-of select="@type"/>)</h3>
      <p><xsl:value-of select="uws:message"/></p></div>
  </xsl:template>

  <xsl:template match="uws:parameters">
    <xsl:choose>
      <xsl:when test="uws:parameter">
        <table class="params"><thead><tr><th scope="col">Name</th><th scope="col">Value</th></tr></thead><tbody>
          <xsl:for-each select="uws:parameter"><tr><th scope="row"><xsl:value-of select="@id"/></th>
            <td><xsl:choose>
              <xsl:when test="@byReference = 'true'"><a href="{.}"><xsl:value-of select="."/></a></xsl:when>
              <xsl:otherwise><code><xsl:value-of select="."/></code></xsl:otherwise>
            </xsl:choose></td></tr></xsl:for-each>
        </tbody></table>
      </xsl:when>
      <xsl:otherwise><p class="empty">No parameters.</p></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match="uws:results">
    <xsl:choose>
      <xsl:when test="uws:result">
        <ul class="results"><xsl:for-each select="uws:result"><li>
          <a href="{@xlink:href}"><xsl:value-of select="@id"/></a>
          <xsl:text> </xsl:text><span class="meta"><xsl:value-of select="@mime-type"/>
          <xsl:if test="@size"> · <xsl:value-of select="@size"/> bytes</xsl:if></span></li></xsl:for-each></ul>
      </xsl:when>
      <xsl:otherwise><p class="empty">No results.</p></xsl:otherwise>
    </xsl:choose>
  </xsl:template>

  <xsl:template match="uws:jobs">
    <h1>Jobs</h1>
    <div class="table-wrap"><table class="jobs">
      <thead><tr><th scope="col">Job</th><th scope="col">Run id</th><th scope="col">Phase</th><th scope="col">Owner</th><th scope="col">Created</th></tr></thead>
      <tbody><xsl:for-each select="uws:jobref"><tr>
        <td><a href="{@xlink:href}"><code><xsl:value-of select="@id"/></code></a></td>
        <td><xsl:value-of select="uws:runId"/></td>
        <td><span class="badge"><xsl:value-of select="uws:phase"/></span></td>
        <td><xsl:value-of select="uws:ownerId"/></td>
        <td><xsl:value-of select="uws:creationTime"/></td></tr></xsl:for-each>
        <xsl:if test="not(uws:jobref)"><tr><td colspan="5" class="empty">No jobs.</td></tr></xsl:if>
      </tbody></table></div>
  </xsl:template>
</xsl:stylesheet>
